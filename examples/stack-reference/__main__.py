"""A second Pulumi project that builds on the rekognition-faces stack through StackReferences.

It reads that stack's outputs with `require_output` (a missing output fails the deployment by name),
gives a CI role of its own the launcher policy, and declares a second FaceDetectionPipeline whose video
bucket is encrypted with a KMS key exported by yet another stack: the key ARN is an Output, which the
component checks when it resolves.
"""

import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

# The component's Python source from this checkout. From another repository, vendor components/ or
# generate an SDK with `pulumi package add <path or git URL of components/>`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from components import FaceDetectionPipeline, FaceDetectionPipelineArgs

config = pulumi.Config()
faces = pulumi.StackReference(config.require("facesStack"))
keys = pulumi.StackReference(config.require("keysStack"))

# A role for the CI jobs that launch face detection; people of this account may assume it.
account_id = aws.get_caller_identity_output().account_id
ci_role = aws.iam.Role(
    "video-jobs",
    description="Runs the face-detection launcher against the rekognition-faces stack.",
    assume_role_policy=pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ),
)
aws.iam.RolePolicyAttachment(
    "video-jobs-launcher",
    role=ci_role.name,
    policy_arn=faces.require_output("launcherPolicyArn"),
)

archive = FaceDetectionPipeline(
    "archive",
    FaceDetectionPipelineArgs(
        bucket_kms_key_arn=keys.require_output("videoKeyArn"),
        tags={"team": "vision", "purpose": "archive"},
    ),
)

pulumi.export("ciRoleArn", ci_role.arn)
pulumi.export("facesQueueUrl", faces.require_output("queueUrl"))
pulumi.export("archiveBucketName", archive.bucket_name)
pulumi.export("archiveQueueUrl", archive.queue_url)
pulumi.export("archiveLauncherPolicyArn", archive.launcher_policy_arn)
