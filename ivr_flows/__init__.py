"""ivr_flows"""
