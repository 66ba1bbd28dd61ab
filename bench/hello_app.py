"""The smallest Flask app: the yardstick the catalog is measured against, under the same server."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
