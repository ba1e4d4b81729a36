"""The Flask extensions, created unbound here and bound in create_app(): the database (every
feature's models), migrations, CSRF, logins, and rate limits ([webapp] ratelimit_storage)."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

db = SQLAlchemy()
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see that page."
# No storage_uri here: an argument would win over the app's RATELIMIT_STORAGE_URI
# ([webapp] ratelimit_storage), and every process would count alone.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
