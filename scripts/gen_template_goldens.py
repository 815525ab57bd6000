#!/usr/bin/python3
"""Renders tests/data/templates/*.jinja with Python jinja2 exactly as Hugging Face
transformers does (apply_chat_template), writing the golden outputs the C++ test
compares against byte for byte.

Run with Debian's python (it has jinja2):  /usr/bin/python3 scripts/gen_template_goldens.py

Environment mirrors transformers' _compile_jinja_template: ImmutableSandboxedEnvironment
with trim_blocks/lstrip_blocks and the loopcontrols extension, a tojson filter that calls
json.dumps(ensure_ascii=False, ...), and raise_exception / strftime_now globals.
strftime_now is pinned to a fixed instant so the goldens are stable.
"""
import json
import os
from datetime import datetime, timezone

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data", "templates")

# 2024-07-26 00:00:00 UTC: the date Llama 3.x templates default to.
FIXED_EPOCH = 1721952000

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

CONVERSATIONS = {
    "single": [
        {"role": "user", "content": "Hello! What is the capital of France?"},
    ],
    "multi": [
        {"role": "user", "content": "Hi there."},
        {"role": "assistant", "content": "Hello! How can I help you today?"},
        {"role": "user", "content": "Write a haiku about the sea."},
    ],
    "system": [
        {"role": "system", "content": "You are a terse assistant. Answer in one line."},
        {"role": "user", "content": "  Caf\u00e9 \u2615 \u2014 \"quotes\", 'apostrophes', <tags> & tabs\tend.  \n"},
        {"role": "assistant", "content": "Noted: \u00fcnic\u00f6de \u65e5\u672c\u8a9e \U0001F600."},
        {"role": "user", "content": "Line one\nLine two\n\nLine four"},
    ],
    "thinking": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n2+2 = 4."},
        {"role": "user", "content": "And 3+3?"},
    ],
    "tool_call": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call12345", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
    ],
    "thinking_tail": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n2+2 = 4."},
    ],
    "bad_alternation": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
}

# Every template gets single/multi/system with a generation prompt and multi without one.
BASE_CASES = [
    ("single", "single", True, {}),
    ("multi", "multi", True, {}),
    ("system", "system", True, {}),
    ("multi_nogen", "multi", False, {}),
]

TEMPLATES = {
    "llama3_1": ("<|begin_of_text|>", "<|eot_id|>", [
        ("tools", "tool_call", True, {"tools": [WEATHER_TOOL]}),
        ("date", "single", True, {"date_string": "01 Jan 2025"}),
    ]),
    "llama3_2": ("<|begin_of_text|>", "<|eot_id|>", [
        ("tools", "single", True, {"tools": [WEATHER_TOOL]}),
    ]),
    "qwen2_5": ("", "<|im_end|>", [
        ("tools", "tool_call", True, {"tools": [WEATHER_TOOL]}),
    ]),
    "qwen3": ("", "<|im_end|>", [
        ("no_think", "single", True, {"enable_thinking": False}),
        ("thinking", "thinking", True, {}),
        ("thinking_tail", "thinking_tail", False, {}),
        ("tools", "tool_call", True, {"tools": [WEATHER_TOOL]}),
    ]),
    "smollm2": ("<|im_start|>", "<|im_end|>", []),
    "mistral_v0_1": ("<s>", "</s>", [
        ("bad_alternation", "bad_alternation", True, {}),
    ]),
    "mistral_v0_3": ("<s>", "</s>", [
        ("tools", "multi", True, {"tools": [WEATHER_TOOL]}),
        ("tool_call", "tool_call", True, {"tools": [WEATHER_TOOL]}),
        ("bad_alternation", "bad_alternation", True, {}),
    ]),
    "phi3": ("<s>", "<|endoftext|>", []),
    "zephyr": ("<s>", "</s>", []),
}


# Construct-level cases: (template, extra variables). Rendered with the same environment;
# the C++ test expects the same output, or an error where jinja2 raises.
SNIPPET_VARS = {
    "msg": {"role": "user", "content": "hi"},
    "users": [{"name": "bob", "admin": True}, {"name": "Ann", "admin": False},
              {"name": "carl", "admin": True}],
}
SNIPPETS = [
    # whitespace control (trim_blocks, lstrip_blocks, -/+ modifiers, comments, raw)
    "a\n  {% if true %}\n  b\n  {% endif %}\nc",
    "{% for x in [1,2] %}\n{{ x }}\n{% endfor %}",
    "  {{- 'x' -}}  \n y",
    "{# comment #}\nA  {#- c -#}  B",
    "a\n  {%+ if true %}b{% endif %}",
    "{% if true -%}\n\n  x  \n{%- endif %}",
    "  {% raw %}{{ x }}{% endraw %}\nq",
    "line\r\nbreak {{ 'x' }}\r\n",
    "trailing newline\n",
    "x {% if true %}   \ny",
    "   {# c #}\nz\n  {{ 'v' }}\n  {%- if true %}w{% endif %}",
    "{% if true %}a{% endif +%}\nb",
    # literals and printing
    "{{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 0.1 + 0.2 }} {{ 1e-7 }} {{ 1e22 }} {{ -0.0 }} {{ 3/2 }} {{ 4/2 }}",
    "{{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2**10 }} {{ 2**-1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2**3**2 }}",
    "{{ true }} {{ True }} {{ none }} {{ None }} {{ false }} {{ 1_000 }} {{ 0x1F }} {{ 123456789.125 }}",
    "{{ [1, 'a', none, true, 2.5, [], {}] }} {{ {'a': 1, 'b': [1, 'x']} }} {{ (1,) }} {{ (1, 2) }} {{ () }}",
    "{{ \"it's\" }} {{ ['it\\'s', \"q\\\"d\", 'back\\\\slash', 'nl\\n', 'tab\\t', '\\x01'] }}",
    "{{ 'a\\tb\\x41\\u00e9\\101\\d' }} {{ 'ab' 'cd' }} {{ \"multi\nline\" }}",
    # operators
    "{{ 'a' ~ 1 ~ none ~ undefined_x ~ 2.0 }}",
    "{{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'a' + 'b' }} {{ 3 * 'x' }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1,2] == [1,2] }} {{ 1 == 1.0 }} {{ true == 1 }}",
    "{{ 'a' in 'cat' }} {{ 2 in [1,2] }} {{ 'k' in {'k':1} }} {{ 3 not in [1] }} {{ 'x' in undefined_x }}",
    "{{ 1 and 'x' }} {{ 0 or 'y' }} {{ not 0 }} {{ none or [] }} {{ '' and 'z' }}|",
    "{{ 'y' if true else 'n' }} {{ 'y' if false }}|{{ 'a' if 0 else 'b' if 1 else 'c' }}",
    "{{ -3|abs }} {{ -(3) }} {{ +2 }} {{ not x is defined }} {{ x is not defined }} {{ -1 ** 2 }}",
    # filters
    "{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|upper }}|{{ 'HeLLo'|lower }}|{{ 'hello WORLD'|capitalize }}|{{ 'hello-world foo_bar (x)y'|title }}",
    "{{ [1,2,3]|length }} {{ 'h\u00e9llo'|length }} {{ {'a':1}|count }} {{ undefined_x|length }}",
    "{{ {'a': 1, 'b': [1, 2.5, none, true], 'c': '\u00e9\"\\n\\u0001'}|tojson }}",
    "{{ {'a': {'b': [1, {}], 'c': []}}|tojson(indent=2) }}",
    "{{ [1,2]|tojson(separators=(',', ':')) }} {{ {'b':1,'a':2}|tojson(sort_keys=true) }} {{ '\u00e9\U0001F600'|tojson(ensure_ascii=true) }} {{ 'x'|tojson }}",
    "{{ x|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|d('n') }} {{ x|d }}|",
    "{{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }}",
    "{{ ['a','b']|join(', ') }} {{ [1,2]|join }} {{ users|join(',', attribute='name') }}",
    "{{ [3,1,2]|first }} {{ [3,1,2]|last }} {{ 'abc'|first }} {{ []|first }}|",
    "{{ 'abc'|list }} {{ {'a':1,'b':2}|list }} {{ {'a':1}|items|list }}",
    "{{ 42|string ~ '!' }} {{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 'x'|float }} {{ 2|float }}",
    "{{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ 3|round }}",
    "{{ users|map(attribute='name')|list }} {{ ['a','B']|map('upper')|list }} {{ users|map(attribute='missing', default='?')|list }}",
    "{{ [1,2,3,4]|select('odd')|list }} {{ [1,2,3,4]|reject('even')|list }} {{ [0,1,'',none,'x']|select|list }}",
    "{{ users|selectattr('admin')|map(attribute='name')|list }} {{ users|rejectattr('admin')|map(attribute='name')|list }} {{ users|selectattr('name', 'equalto', 'bob')|list|length }}",
    "{{ ['a','b']|reject('equalto','a')|list }} {{ [1,5,10]|select('gt', 3)|list }} {{ ['x','y']|select('in', ['y'])|list }}",
    "{{ ['b','A','a','c']|unique|list }} {{ ['b','A','a','c']|sort }} {{ [3,1,2]|sort(reverse=true) }} {{ users|sort(attribute='name')|map(attribute='name')|join(',') }} {{ ['b','A']|sort(case_sensitive=true) }}",
    "{{ 'a\nb\n\nc'|indent }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent(width='> ', blank=true) }}",
    "{{ '<a href=\"x\">&</a>'|e }} {{ '<b>'|escape }} {{ '<i>'|safe }}",
    "{{ [1,2,3]|sum }} {{ [1,2.5]|sum }} {{ [3,1,2]|min }} {{ ['b','a']|max }} {{ [1,2]|reverse|list }} {{ 'abc'|reverse }} {{ {'b':1,'a':2}|dictsort }}",
    "{{ '\u00c9COLE caf\u00e9'|lower }} {{ '\u00e9a'|upper }} {{ '\u00e9t\u00e9 ici'|title }}",
    # tests
    "{{ 1 is odd }} {{ 2 is even }} {{ 6 is divisibleby 3 }} {{ 6 is divisibleby(4) }} {{ none is none }} {{ 1 is number }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is integer }}",
    "{{ true is boolean }} {{ true is true }} {{ 0 is false }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'x' is iterable }} {{ 1 is iterable }} {{ x is undefined }} {{ [] is sequence }}",
    "{{ 'a' is equalto 'a' }} {{ 1 is eq 1 }} {{ 2 is gt 1 }} {{ 'a' is in 'abc' }} {{ range is callable }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ none is sameas none }} {{ x is iterable }} {{ msg is mapping }}",
    # loops
    "{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem|default('-') }}{{ loop.nextitem|default('-') }}{{ loop.cycle('o','e') }};{% endfor %}",
    "{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% else %}none{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }},{% endfor %}{% for k, v in {'a': 1}|items %}{{ k }}{{ v }}{% endfor %}{% for k in {'x':1,'y':2} %}{{ k }}{% endfor %}",
    "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for a in [1,2] %}{% for b in ['x','y'] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for x in 'ab' %}[{{ x }}]{% endfor %}{% for (a, b) in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}",
    "{% set y = 1 %}{% for x in [1,2] %}{{ y }}{% set y = 5 %}{{ y }}{% endfor %}{{ y }}",
    "{% for x in [1,2] %}{% if loop.first %}{% set z = 5 %}{% endif %}[{{ z }}]{% endfor %}",
    "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }}",
    # set, namespace, macros, with, if
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}",
    "{% set ns = namespace(count=0, items=[]) %}{% for i in range(3) %}{% set ns.count = ns.count + i %}{% endfor %}{{ ns.count }} {{ ns.items }}",
    "{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]",
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Bob') }} {{ greet('Ann', greeting='Hi') }} {{ greet(name='Z') }}",
    "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(3) }}",
    "{% with a = 5 %}{{ a }}{% endwith %}[{{ a }}]",
    "{% if false %}a{% elif true %}b{% else %}c{% endif %}{% if 0 %}x{% elif '' %}y{% else %}z{% endif %}",
    "{% set d = dict(a=1, b='x') %}{{ d }} {{ d.a }} {{ d['b'] }} {{ d.get('c', 'dflt') }} {{ d.get('c') }} {{ d.keys()|list }} {{ d.values()|list }}",
    # str methods
    "{{ '  x  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  x'.lstrip() }}|{{ 'x  '.rstrip() }}|{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }}",
    "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ 'hello world'.title() }} {{ \"they're 2nd\".title() }} {{ 'hELLO'.capitalize() }}",
    "{{ 'aXbX'.replace('X', '-') }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'banana'.count('a') }} {{ '-'.join(['a','b']) }} {{ 'a{}b{}'.format(1, 'x') }} {{ '{name}!'.format(name='N') }} {{ 'ab\ncd'.splitlines() }}",
    # subscripts and slices
    "{{ [1,2,3,4][1:] }} {{ [1,2,3,4][:-1] }} {{ [1,2,3,4][::-1] }} {{ [1,2,3,4][::2] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1,2,3][-1] }} {{ 'abc'[0] }} {{ [1,2][5] }}|",
    "{{ [1,2,3,4][-3:-1] }} {{ (1,2,3)[1:] }} {{ [1,2,3,4,5][4:1:-2] }} {{ [1,2,3][10:] }}",
    # attributes and undefined
    "{{ msg.role }} {{ msg['role'] }} {{ msg.missing }}|{{ msg.missing is defined }} {{ msg.content.content is defined }} {{ none.x is defined }}",
    "{{ users[0].name }} {{ users.0.name }} {{ msg.items()|list }} {{ msg['items'] is defined }}",
    "{% if undefined_x %}t{% else %}f{% endif %} {{ undefined_x|default('d') }} {{ undefined_x is none }} {% for i in undefined_x %}x{% endfor %}. {{ undefined_x == undefined_y }}",
    "{{ strftime_now('%Y-%m-%d %H:%M %A %B %j %d %b') }}",
    # errors: jinja2 raises, so must we
    "{{ x.y }}",
    "{{ x + 1 }}",
    "{{ [1].append(2) }}",
    "{{ {'a': 1}.update({}) }}",
    "{{ 1 + 'a' }}",
    "{{ undefined_x() }}",
    "{% for %}",
    "{{ 'a' < 1 }}",
    "{{ x[0] }}",
    "{{ 1 / 0 }}",
    "{% if true %}unclosed",
    "{{ foo|nosuchfilter }}",
    "{{ 1 is nosuchtest }}",
    "{% set x = 1 %}{{ x.y.z }}",
    "{{ 'a' 'b }}",
    "{{ raise_exception('custom message') }}",
]


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(FIXED_EPOCH, tz=timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, messages, add_gen, bos, eos, extra):
    variables = {"tools": None, "documents": None}
    variables.update(extra)
    return env.from_string(source).render(messages=messages, add_generation_prompt=add_gen,
                                          bos_token=bos, eos_token=eos, **variables)


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def main():
    env = make_env()
    manifest = []
    for name, (bos, eos, extra_cases) in TEMPLATES.items():
        with open(os.path.join(DATA, name + ".jinja"), encoding="utf-8", newline="") as f:
            source = f.read()
        for case, conv, add_gen, extra in BASE_CASES + extra_cases:
            stem = os.path.join(DATA, f"{name}.{case}")
            for old in (stem + ".golden", stem + ".error"):
                if os.path.exists(old):
                    os.remove(old)
            entry = {"template": name, "case": case, "conversation": conv,
                     "add_generation_prompt": add_gen, "bos_token": bos, "eos_token": eos,
                     "extra": extra}
            try:
                write(stem + ".golden", render(env, source, CONVERSATIONS[conv], add_gen, bos, eos, extra))
                entry["expect"] = "golden"
            except jinja2.exceptions.TemplateError as e:
                write(stem + ".error", str(e))
                entry["expect"] = "error"
            manifest.append(entry)
    out = {"strftime_epoch": FIXED_EPOCH, "conversations": CONVERSATIONS, "cases": manifest}
    write(os.path.join(DATA, "conversations.json"), json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    snippets = [render_snippet(env, src) for src in SNIPPETS]
    write(os.path.join(DATA, "snippets.json"),
          json.dumps({"vars": SNIPPET_VARS, "cases": snippets}, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {len(manifest)} template cases, {len(snippets)} snippets")


def render_snippet(env, source):
    case = {"template": source}
    try:
        case["output"] = env.from_string(source).render(**SNIPPET_VARS)
    except Exception as e:  # jinja2 errors, TypeError, ZeroDivisionError, ...
        case["error"] = f"{type(e).__name__}: {e}"
    return case


if __name__ == "__main__":
    main()
