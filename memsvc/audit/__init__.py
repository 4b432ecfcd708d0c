"""The audit ledger, its signed checkpoints, verification and export."""
