"""Pulumi resources for Amazon Rekognition Video face detection (IaC only: no launcher logic)."""

from .pipeline import FaceDetectionPipeline
from .settings import DEFAULTS, ConfigError, FaceDetectionPipelineArgs, check_name

__all__ = ["DEFAULTS", "ConfigError", "FaceDetectionPipeline", "FaceDetectionPipelineArgs", "check_name"]
