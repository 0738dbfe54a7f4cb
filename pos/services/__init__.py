"""Use cases of the terminal: one function per business action, one transaction each.

The UI, the CLI and the tests call these; they call the domain (``pos.domain``) for the shop's
rules and the ledger (``pos.ledger``) for every read and write, and return plain results. A refused
action raises :class:`~pos.services.terminal.ServiceError` (or a subclass) whose ``str()`` is a
sentence for the cashier, and changes nothing.

Modules (import the one you need; this package imports none of them, so a process that only sells
does not pay for the sync client):

``terminal``  ``open_terminal(data_dir) -> Terminal``, ``close_terminal``, ``set_store_settings``;
              errors ``ServiceError``, ``NotSignedIn``, ``ApprovalNeeded`` (``.action``),
              ``LockedOut`` (``.until``); ``StoreSettings``.
``staff``     ``add_staff``, ``sign_in(pin) -> SignedIn``, ``sign_out``, ``lockout_until``,
              ``hash_pin``.
``shift``     ``open_shift(float)``, ``current_shift``, ``expected_cash``,
              ``close_shift(counted, manager_pin=)``, ``cash_in``, ``cash_out(manager_pin=)``,
              ``open_drawer(reason)``.
``sale``      ``start_sale(training=)``, ``set_next_quantity``, ``scan(text) -> ScanResult``,
              ``add_product(sku)``, ``set_quantity``, ``remove_line``, ``override_price``, ``discount_line`` /
              ``discount_sale`` (``manager_pin=``), ``begin_payment``, ``tender_cash`` /
              ``tender_card`` / ``tender_voucher``, ``remove_tender``,
              ``complete_sale -> CompletedSale``, ``void_sale``, ``last_sale_outcome``,
              ``acknowledge_interrupted_sale``, ``reprint_last_receipt``, ``find_sale``.
``returns``   ``start_return(code)``, ``set_return_quantity``, ``complete_return(manager_pin=)``,
              ``void_paid_sale(code, manager_pin=)``.
``catalog``   ``import_catalog(path, on_progress=)``, ``search_products(text, limit)``,
              ``product_by_barcode``.
``reports``   ``terminal_status``, ``verify_ledger(data_dir)``, ``export_rows(data_dir, what)``.
``syncing``   enrollment, the sync engine's store on the ledger, background sync (sync helper).
"""
