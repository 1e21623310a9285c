"""The prompt templates (YAML), installed as the package data `assistant.prompt_files`.

A package only so that `importlib.resources` finds the files the same way in a checkout, an
editable install and a wheel; `assistant.llm.prompts.load_prompt` reads them.
"""
