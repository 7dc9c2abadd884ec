"""The baseline app of the latency rows: a bare Flask app with one view returning "hello", nothing else.

Served by a second gunicorn with the production flags (`bench.server.gunicorn_cmd(bind, app="bench.hello:app")`),
so a row's requests per second divided by this one's says what our code costs beyond Flask and gunicorn.
"""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello"
