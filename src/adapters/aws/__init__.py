"""AWS adapters: DynamoDB state, SQS queue, SES mail (with regional failover), S3 archive and inbound
mail, SNS alerts and their Telegram relay, SSM parameters, Lambda HTTP events.

Every module declares `IAM_ACTIONS`: exactly the IAM actions its boto3 calls need. A test derives them
from the calls in the source, and the Lambda manifest (entrypoints/aws/manifest.py) unions them per
function, so the Terraform roles can be checked against the code.
"""
