"""The operator console: agents, supervisors, admins and compliance officers work cases;
creditors' dashboard users see their own portfolio. Server-rendered, same stack as the portal.
"""
