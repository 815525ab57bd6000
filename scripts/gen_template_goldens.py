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
    print(f"wrote {len(manifest)} cases")


if __name__ == "__main__":
    main()
