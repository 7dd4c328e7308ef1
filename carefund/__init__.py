"""carefund: fund a child's treatment between the NHS, a charity and the public."""
