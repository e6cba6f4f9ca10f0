"""What any caller of Rekognition Video face detection needs: errors, the S3 video, starting a job,
its completion, paging and writing its faces, appearances, and the result objects of auto-processing.

Lambda-safe: the standard library, boto3/botocore and ``rekognition_limits`` only (tests/unit/test_layering.py)."""
