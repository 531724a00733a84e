resource "aws_db_instance" "orders" {
  username = "orders"
  password = var.db_password
  kms_key_id = aws_kms_key.orders.arn
}
