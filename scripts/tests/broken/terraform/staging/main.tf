# BROKEN ON PURPOSE: HCL syntax error (hcl2json, checkov parsing error, terraform fmt).
variable "region" {
  type =
}
