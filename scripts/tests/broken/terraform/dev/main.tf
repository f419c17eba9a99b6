# BROKEN ON PURPOSE: not in `terraform fmt` canonical form, and an S3 bucket that
# fails checkov's AWS checks.
resource "aws_s3_bucket" "logs" {
bucket = "plinth-logs"
  acl="public-read"
}
