"""Knowledge base (知识库): vetted answers operators read out; searchable in Chinese."""
