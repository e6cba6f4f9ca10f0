"""The auto-processing stack's two Lambda functions (starter and collector) and what they share.
They import ``launcher.jobs`` only; their deployment package holds ``jobs/``, ``functions/`` and
``rekognition_limits.py``, nothing more."""
