"""Reports: daily, weekly and monthly figures of the hotline (日报、周分析、月通报)."""
