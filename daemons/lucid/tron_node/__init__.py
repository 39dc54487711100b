"""tron-node: pays the host in USDT-TRC20 for this device's work (docs/payouts.md)."""
