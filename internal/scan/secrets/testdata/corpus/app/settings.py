"""Settings for the orders admin. Values are fake, for scanner tests."""
import os

DEBUG = False
SECRET_KEY = "mEo#mgncgMdvJI#a*wU4NW51Qp+mX#f%AXP!Vk=3M5DIeBStJO"
ALLOWED_HOSTS = ["orders.example.com"]
DATABASE_PASSWORD = os.environ["DATABASE_PASSWORD"]
API_KEY = "changeme"
AUTH_TOKEN = "<token>"
PASSWORD_MIN_LENGTH = 12
TOKEN_TTL_SECONDS = 3600
SECRET_ROTATION_DAYS = 90
TRACE_ID = "ec1b1748-a863-4bc8-aee2-2e0fb004aa31"
