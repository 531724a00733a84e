"""Posts release notes to Slack. Tokens below are made up for tests."""
import json
import os
import urllib.request

SLACK_BOT_TOKEN = "xoxb-295213815159-3163919835195-2Ht9qICAAazXYhT1xZJOouhE"
WEBHOOK = "https://hooks.slack.com/services/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"
CHANNEL = "#releases"

# Not secrets:
TOKEN_ENV = "SLACK_TOKEN"
password_prompt = "Enter your password: "
api_version = "v2"

def post(text):
    token = os.environ.get(TOKEN_ENV, SLACK_BOT_TOKEN)
    body = json.dumps({"channel": CHANNEL, "text": text}).encode()
    req = urllib.request.Request(WEBHOOK, data=body)
    req.add_header("Authorization", "Bearer " + token)
    return urllib.request.urlopen(req)
