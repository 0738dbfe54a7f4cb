"""The shop's rules, pure Python: no Qt, no SQL, no I/O, no clock (time is passed in).

Modules: ``money`` (integer minor units, parse/format), ``tax`` (inclusive/exclusive, per-rate
rows), ``sale`` (the sale in progress and its totals), ``tender`` (payment, change, cash rounding,
the wire payload), ``returns`` (refunds for lines of an earlier sale), ``scanning`` (what a scan
means), ``keypad`` (the "N*" quantity prefix), ``staff`` (what needs a manager), ``shift``
(drawer cash). The rules are written out in docs/domain.md.
"""
