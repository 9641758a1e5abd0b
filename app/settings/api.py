"""Shop settings endpoints: the agent settings (代理设置).

``GET`` needs ``agents.view`` (owner and staff), ``PATCH`` ``agents.manage``
(the owner, or an owner's API key) and is on the audit record. Each calls
one function of ``app.settings.agent_settings``, as the console's page does.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.settings import agent_settings
from app.settings.schemas import AgentSettingsSchema, AgentSettingsWrite

blp = Blueprint("settings_api", __name__, description="Shop settings")
SECURED = [{"apiKey": []}]


@blp.route("/shop/agent-settings")
class AgentSettings(MethodView):
    @require("agents.view")
    @blp.response(200, AgentSettingsSchema)
    @blp.doc(security=SECURED)
    def get(self):
        """How many upline levels earn commission, how long it waits, the
        first-order discount, and the smallest withdrawal and its fee."""
        return agent_settings.agent_settings()

    @require("agents.manage")
    @blp.arguments(AgentSettingsWrite)
    @blp.response(200, AgentSettingsSchema)
    @blp.doc(security=SECURED)
    def patch(self, data):
        """Set the given agent settings; the answer holds all of them."""
        return agent_settings.save_agent_settings(data, actor=current_principal().actor).settings
