"""The book is append-only and balanced, enforced by the database itself on SQLite and PostgreSQL.

- A posted transaction and its postings can never be updated or deleted (corrections are reversing transactions).
- Postings cannot be added to a posted transaction.
- A transaction can be marked posted only if it has two or more postings that sum to zero.
- PostgreSQL also checks every transaction's sum at commit (DEFERRABLE INITIALLY DEFERRED constraint triggers),
  so even a transaction inserted already posted must balance by the time the database transaction commits.
SQLite has no deferred triggers: there ledger_post inserts the postings while the transaction is unposted and the
UPDATE that marks it posted checks the sum."""

from django.db import migrations

UNBALANCED = "ledger: unbalanced transaction refused: its postings must sum to zero"
TOO_FEW = "ledger: a transaction needs at least two postings"
POSTED_TXN = "ledger: a posted transaction cannot be changed or deleted; post a reversing transaction instead"
POSTED_POSTING = "ledger: postings of a posted transaction cannot be changed or deleted; post a reversal instead"
ADD_TO_POSTED = "ledger: postings cannot be added to a posted transaction"
POSTING_UPDATE = "ledger: postings cannot be updated; post a reversing transaction instead"
INSERT_POSTED = "ledger: insert a transaction unposted, add its postings, then mark it posted"

SQLITE = [
    f"""CREATE TRIGGER ledger_txn_insert_unposted BEFORE INSERT ON ledger_transaction WHEN NEW.is_posted = 1
        BEGIN SELECT RAISE(ABORT, '{INSERT_POSTED}'); END;""",
    f"""CREATE TRIGGER ledger_txn_no_update_posted BEFORE UPDATE ON ledger_transaction WHEN OLD.is_posted = 1
        BEGIN SELECT RAISE(ABORT, '{POSTED_TXN}'); END;""",
    f"""CREATE TRIGGER ledger_txn_post_balanced BEFORE UPDATE ON ledger_transaction
        WHEN OLD.is_posted = 0 AND NEW.is_posted = 1
        BEGIN
          SELECT RAISE(ABORT, '{UNBALANCED}')
            WHERE COALESCE((SELECT SUM(amount_pence) FROM ledger_posting WHERE transaction_id = OLD.id), 0) <> 0;
          SELECT RAISE(ABORT, '{TOO_FEW}')
            WHERE (SELECT COUNT(*) FROM ledger_posting WHERE transaction_id = OLD.id) < 2;
          SELECT RAISE(ABORT, '{POSTED_TXN}') WHERE NEW.id <> OLD.id;
        END;""",
    f"""CREATE TRIGGER ledger_txn_no_delete_posted BEFORE DELETE ON ledger_transaction WHEN OLD.is_posted = 1
        BEGIN SELECT RAISE(ABORT, '{POSTED_TXN}'); END;""",
    f"""CREATE TRIGGER ledger_posting_no_insert_posted BEFORE INSERT ON ledger_posting
        WHEN COALESCE((SELECT is_posted FROM ledger_transaction WHERE id = NEW.transaction_id), 0) = 1
        BEGIN SELECT RAISE(ABORT, '{ADD_TO_POSTED}'); END;""",
    f"""CREATE TRIGGER ledger_posting_no_update BEFORE UPDATE ON ledger_posting
        BEGIN SELECT RAISE(ABORT, '{POSTING_UPDATE}'); END;""",
    f"""CREATE TRIGGER ledger_posting_no_delete_posted BEFORE DELETE ON ledger_posting
        WHEN COALESCE((SELECT is_posted FROM ledger_transaction WHERE id = OLD.transaction_id), 0) = 1
        BEGIN SELECT RAISE(ABORT, '{POSTED_POSTING}'); END;""",
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {name};"
    for name in (
        "ledger_txn_insert_unposted",
        "ledger_txn_no_update_posted",
        "ledger_txn_post_balanced",
        "ledger_txn_no_delete_posted",
        "ledger_posting_no_insert_posted",
        "ledger_posting_no_update",
        "ledger_posting_no_delete_posted",
    )
]

POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION ledger_assert_balanced(txn_id bigint) RETURNS void AS $$
        DECLARE total bigint; n integer;
        BEGIN
          SELECT COALESCE(SUM(amount_pence), 0), COUNT(*) INTO total, n FROM ledger_posting
            WHERE transaction_id = txn_id;
          IF n < 2 THEN RAISE EXCEPTION '{TOO_FEW} (transaction %)', txn_id USING ERRCODE = '23514'; END IF;
          IF total <> 0 THEN
            RAISE EXCEPTION '{UNBALANCED} (transaction % sums to % pence)', txn_id, total USING ERRCODE = '23514';
          END IF;
        END; $$ LANGUAGE plpgsql;""",
    f"""CREATE OR REPLACE FUNCTION ledger_txn_guard() RETURNS trigger AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            IF OLD.is_posted THEN RAISE EXCEPTION '{POSTED_TXN}' USING ERRCODE = '23514'; END IF;
            RETURN OLD;
          END IF;
          IF OLD.is_posted OR NEW.id <> OLD.id THEN
            RAISE EXCEPTION '{POSTED_TXN}' USING ERRCODE = '23514';
          END IF;
          IF NEW.is_posted THEN PERFORM ledger_assert_balanced(OLD.id); END IF;
          RETURN NEW;
        END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER ledger_txn_guard BEFORE UPDATE OR DELETE ON ledger_transaction
        FOR EACH ROW EXECUTE FUNCTION ledger_txn_guard();""",
    f"""CREATE OR REPLACE FUNCTION ledger_posting_guard() RETURNS trigger AS $$
        DECLARE posted boolean;
        BEGIN
          IF TG_OP = 'UPDATE' THEN RAISE EXCEPTION '{POSTING_UPDATE}' USING ERRCODE = '23514'; END IF;
          IF TG_OP = 'INSERT' THEN
            SELECT is_posted INTO posted FROM ledger_transaction WHERE id = NEW.transaction_id;
            IF posted THEN RAISE EXCEPTION '{ADD_TO_POSTED}' USING ERRCODE = '23514'; END IF;
            RETURN NEW;
          END IF;
          SELECT is_posted INTO posted FROM ledger_transaction WHERE id = OLD.transaction_id;
          IF posted THEN RAISE EXCEPTION '{POSTED_POSTING}' USING ERRCODE = '23514'; END IF;
          RETURN OLD;
        END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER ledger_posting_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger_posting
        FOR EACH ROW EXECUTE FUNCTION ledger_posting_guard();""",
    """CREATE OR REPLACE FUNCTION ledger_balanced_at_commit() RETURNS trigger AS $$
        BEGIN
          IF TG_TABLE_NAME = 'ledger_posting' THEN
            IF EXISTS (SELECT 1 FROM ledger_transaction WHERE id = NEW.transaction_id) THEN
              PERFORM ledger_assert_balanced(NEW.transaction_id);
            END IF;
          ELSE
            PERFORM ledger_assert_balanced(NEW.id);
          END IF;
          RETURN NULL;
        END; $$ LANGUAGE plpgsql;""",
    """CREATE CONSTRAINT TRIGGER ledger_posting_balanced_at_commit AFTER INSERT ON ledger_posting
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_balanced_at_commit();""",
    """CREATE CONSTRAINT TRIGGER ledger_txn_balanced_at_commit AFTER INSERT ON ledger_transaction
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_balanced_at_commit();""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_txn_balanced_at_commit ON ledger_transaction;",
    "DROP TRIGGER IF EXISTS ledger_posting_balanced_at_commit ON ledger_posting;",
    "DROP TRIGGER IF EXISTS ledger_posting_guard ON ledger_posting;",
    "DROP TRIGGER IF EXISTS ledger_txn_guard ON ledger_transaction;",
    "DROP FUNCTION IF EXISTS ledger_balanced_at_commit();",
    "DROP FUNCTION IF EXISTS ledger_posting_guard();",
    "DROP FUNCTION IF EXISTS ledger_txn_guard();",
    "DROP FUNCTION IF EXISTS ledger_assert_balanced(bigint);",
]


def forwards(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for sql in statements:
        schema_editor.execute(sql, None)


def backwards(apps, schema_editor):
    statements = POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for sql in statements:
        schema_editor.execute(sql, None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
