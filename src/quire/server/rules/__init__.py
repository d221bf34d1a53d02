"""Automation rules (seed 001): a rule watches one dataset and, every `interval_seconds`, takes the
records changed since its last run, keeps those that match its filter and fall in its sample, and
hands them to its actions — webhook batches `{rule_id, start_time, end_time, runs, feedback_stats}`
and copies into another dataset.

    endpoints.py / cli.py    the API (`/api/v1/rules`) and `quire rules list|trigger|logs`
    service.py, compat.py    create / change / delete rules (never commits); copy-target checks
    scheduler.py             finds due rules, runs them, keeps the logs tidy
    runner.py                one run = one transaction: lock, close the window, match, act, log
    sampling.py              deterministic sampling by (rule id, record id)
    windows.py               exact window ends, and the records changed in a window
    matching.py              the rule's filter over a window's records
    payload.py, stats.py     what a run sends: the records, `feedback_stats`, batches
    urls.py, values.py       signed, expiring URLs for values too large to inline, and serving them
    deliveries.py            webhook batches into the outbox; copies into another dataset
    logs.py                  run logs with their delivered / failed counts
"""
