"""agent_desktop"""
