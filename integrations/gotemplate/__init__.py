"""Go's text/template language, as Grafana's notification templates use it (no Django here).

tmpl_set = TemplateSet(funcs)            # builtins + tmpl.Exec/tmpl.Inline + the caller's
tmpl_set.add("mytemplates", source)      # {{define}}s join the set; later ones replace
tmpl_set.execute("slack.title", data)    # -> str, or GoTemplateError
tmpl_set.render("{{ .Status }}", data)   # a templated setting, parsed against the set
parse(name, source, funcs)               # syntax and function check only
is_go_template(source)                   # which engine a setting is written for
defaults.grafana_template_set(user)      # Grafana's functions, the built-ins in Go syntax, the user's
"""

from integrations.gotemplate.engine import Template, TemplateSet, is_go_template, parse
from integrations.gotemplate.execute import MAX_TEMPLATE_DEPTH
from integrations.gotemplate.lexer import GoTemplateError
from integrations.gotemplate.printf import sprintf
from integrations.gotemplate.printing import value_text
from integrations.gotemplate.values import truth, with_state, zero_value

__all__ = [
    "MAX_TEMPLATE_DEPTH",
    "GoTemplateError",
    "Template",
    "TemplateSet",
    "is_go_template",
    "parse",
    "sprintf",
    "truth",
    "value_text",
    "with_state",
    "zero_value",
]
