#!/usr/bin/env python
from carefund.manage import main

if __name__ == "__main__":
    main()
