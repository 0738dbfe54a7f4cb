"""Devices at the counter: the receipt printer and the cash drawer behind it (python-escpos)."""
