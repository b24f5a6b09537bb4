-- Positions no one holds may be deleted by the administrators (职务管理).
GRANT DELETE ON position TO {{runtime_role}};
