"""Error pages in the site's own layout: 404, 500 and every other HTTP error, 429 (its own
module, webapp.site.too_many), CSRF.

Each page says in words what happened and what to do; the status code is kept.
A refused CSRF token (a form left open too long, or sent from another site) gets
its own explanation instead of "Bad Request".
"""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.site import too_many

WORDS = {
    404: ("Page not found", "There is no page at this address. Check the link, or start again "
                            "from the front page."),
    405: ("Not allowed", "This page cannot be used that way."),
    500: ("Something went wrong", "The site could not answer this request. It has been logged; "
                                  "please try again in a moment."),
}


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        title, text = WORDS.get(error.code, (error.name, error.description))
        return render_template("error.html", title=title, text=text, code=error.code), error.code

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError):
        text = ("This form has expired or did not come from this site, so it was not sent. "
                "Go back, reload the page and send it again.")
        return render_template("error.html", title="Form expired", text=text, code=400), 400

    app.register_error_handler(429, too_many.page)
