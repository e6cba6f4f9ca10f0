"""Pulumi resources for Amazon Rekognition Video face detection (IaC only: no launcher logic)."""

from .pipeline import ConfigError, FaceDetectionPipeline, FaceDetectionPipelineArgs

__all__ = ["ConfigError", "FaceDetectionPipeline", "FaceDetectionPipelineArgs"]
