"""The batch form: discovery of videos, the ledger, and the scheduler that keeps the quota full."""
