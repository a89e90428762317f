"""Our OpenFX declarations (plugins/ofx_bridge/include/vh_ofx_api.h) against the official OpenFX 1.5 headers.

The project keeps its own header, so that a fresh clone builds without any SDK; this test makes sure it says
what the standard says. It writes one C++ translation unit that includes the official headers
(../shared/third_party/openfx) and ours (inside a namespace, after taking the official values of every name
ours defines and undefining them), and static-asserts, for everything our header declares:

- every string constant (actions, properties, values, suite names) and every status code equals the official
  one;
- every struct (the suites, OfxHost, OfxPlugin, the rectangles) has the official size, alignment, and each
  member its official offset; function-pointer members have the official arity and parameter kinds (pointer /
  integer / floating, with sizes), so the suite versions we fetch (OfxPropertySuiteV1, OfxMessageSuiteV2, ...)
  have the layout the host fills in.

The two property-name prefixes the standard only names in prose (``OfxImageClipPropRoI_``,
``OfxImageClipPropFrameRange_``) are checked against its text. Skips without ../shared or a C++17 compiler.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
OURS = REPO / "plugins" / "ofx_bridge" / "include" / "vh_ofx_api.h"
OFFICIAL = REPO.parent / "shared" / "third_party" / "openfx" / "include"
OFFICIAL_HEADERS = (
    "ofxCore.h",
    "ofxProperty.h",
    "ofxImageEffect.h",
    "ofxParam.h",
    "ofxMemory.h",
    "ofxMessage.h",
    "ofxMultiThread.h",
)
PROSE_ONLY = {"kOfxImageClipPropFrameRangePrefix", "kOfxImageClipPropRoIPrefix"}


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def our_declarations() -> tuple[dict[str, str], list[str], dict[str, list[str]]]:
    """(string macros name -> value, status-code names, struct name -> member names) declared in our
    header."""
    text = _strip_comments(OURS.read_text())
    strings = dict(re.findall(r'#define\s+(kOfx\w+)\s+("[^"]*")', text))
    statuses = re.findall(r"constexpr\s+OfxStatus\s+(kOfx\w+)\s*=", text)
    structs: dict[str, list[str]] = {}
    for name, body in re.findall(r"struct\s+(Ofx\w+)\s*\{(.*?)\};", text, flags=re.S):
        members: list[str] = []
        for decl in body.split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            pointer = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
            if pointer:
                members.append(pointer.group(1))
                continue
            head, *rest = decl.split(",")
            members.append(re.findall(r"\w+", head)[-1])
            members += [r.strip().lstrip("*").strip() for r in rest]
        structs[name] = members
    return strings, statuses, structs


def translation_unit() -> str:
    strings, statuses, structs = our_declarations()
    checked = [n for n in strings if n not in PROSE_ONLY]
    lines = ["#include <cstddef>", "#include <cstring>", "#include <type_traits>"]
    lines += [f'#include "{h}"' for h in OFFICIAL_HEADERS]
    lines += [
        # (prefixed names: the macros would otherwise replace the declared names themselves)
        *[f"constexpr const char* official_{n} = {n};" for n in checked],
        *[f"constexpr int official_{n} = {n};" for n in statuses],
        *[f"#undef {n}" for n in [*checked, *statuses]],
        "namespace ours {",
        f'#include "{OURS}"',
        "}",
        "constexpr bool same(const char* a, const char* b) {",
        "  return *a == *b && (*a == 0 || same(a + 1, b + 1));",
        "}",
        # A parameter's kind: pointer, integer or floating, with its size (handles differ by type, not by
        # kind).
        "template <class T> constexpr int kind() {",
        "  if constexpr (std::is_void<T>::value) return 0;",
        "  else return std::is_pointer<T>::value ? 1000",
        "      : (std::is_floating_point<T>::value ? 2000 : 3000) + int(sizeof(T));",
        "}",
        "template <class R, class... A> struct Sig {",
        "  static constexpr int arity = sizeof...(A);",
        "  static constexpr int variadic = 0;",
        "  static constexpr long code = kind<R>() * 1000003L + (0L + ... + (kind<A>() * 31L));",
        "};",
        "template <class T> struct SigOf;",
        "template <class R, class... A> struct SigOf<R (*)(A...)> : Sig<R, A...> {};",
        "template <class R, class... A> struct SigOf<R (*)(A..., ...)> : Sig<R, A...> {",
        "  static constexpr int variadic = 1;",
        "};",
        "template <class T, class U> constexpr bool sameSignature() {",
        "  if constexpr (std::is_pointer<T>::value && std::is_function<std::remove_pointer_t<T>>::value) {",
        "    return SigOf<T>::arity == SigOf<U>::arity && SigOf<T>::variadic == SigOf<U>::variadic &&",
        "           SigOf<T>::code == SigOf<U>::code;",
        "  } else {",
        "    return sizeof(T) == sizeof(U) && std::is_pointer<T>::value == std::is_pointer<U>::value;",
        "  }",
        "}",
    ]
    for n in checked:
        lines.append(f'static_assert(same(official_{n}, {n}), "{n} differs from the official value");')
    for n in statuses:
        lines.append(f'static_assert(official_{n} == ours::{n}, "{n} differs from the official value");')
    for s, members in structs.items():
        lines.append(f'static_assert(sizeof(ours::{s}) == sizeof(::{s}), "sizeof {s}");')
        lines.append(f'static_assert(alignof(ours::{s}) == alignof(::{s}), "alignof {s}");')
        for m in members:
            lines.append(
                f'static_assert(offsetof(ours::{s}, {m}) == offsetof(::{s}, {m}), "offset of {s}::{m}");'
            )
            lines.append(
                f"static_assert(sameSignature<decltype(ours::{s}::{m}), decltype(::{s}::{m})>(), "
                f'"type of {s}::{m}");'
            )
    lines.append("int main() { return 0; }")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def compiler() -> str:
    if not OFFICIAL.is_dir():
        pytest.skip(f"official OpenFX headers absent ({OFFICIAL}; they live in ../shared/third_party)")
    for cxx in ("c++", "g++", "clang++"):
        if shutil.which(cxx):
            return cxx
    pytest.skip("no C++ compiler")


def test_our_header_declares_what_the_checks_cover():
    strings, statuses, structs = our_declarations()
    assert len(strings) > 80 and len(statuses) == 16
    assert {
        "OfxPropertySuiteV1",
        "OfxParameterSuiteV1",
        "OfxImageEffectSuiteV1",
        "OfxMemorySuiteV1",
        "OfxMessageSuiteV1",
        "OfxMessageSuiteV2",
        "OfxMultiThreadSuiteV1",
        "OfxHost",
        "OfxPlugin",
        "OfxRectI",
        "OfxRectD",
        "OfxRangeD",
    } <= set(structs)
    assert structs["OfxRectI"] == ["x1", "y1", "x2", "y2"]
    assert (
        len(structs["OfxImageEffectSuiteV1"]) == 13
        and structs["OfxPropertySuiteV1"][-1] == "propGetDimension"
    )


def test_our_header_agrees_with_the_official_openfx_headers(compiler, tmp_path):
    source = tmp_path / "agree.cpp"
    source.write_text(translation_unit())
    result = subprocess.run(
        [compiler, "-std=c++17", "-fsyntax-only", "-Wall", "-I", str(OFFICIAL), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stderr == ""  # no macro-redefinition or other warning either


def test_the_check_catches_a_wrong_declaration(compiler, tmp_path):
    # The same unit with one value, one member order and one parameter type changed must not compile.
    text = translation_unit()
    broken = OURS.read_text()
    broken = broken.replace('#define kOfxPropTime "OfxPropTime"', '#define kOfxPropTime "OfxPropTimes"')
    broken = broken.replace("  int x1, y1, x2, y2;", "  int y1, x1, x2, y2;")
    broken = broken.replace(
        "OfxStatus (*propSetDouble)(OfxPropertySetHandle properties, const char* property, "
        "int index, double value);",
        "OfxStatus (*propSetDouble)(OfxPropertySetHandle properties, const char* property, "
        "int index, float value);",
    )
    fake = tmp_path / "vh_ofx_api.h"
    fake.write_text(broken)
    source = tmp_path / "broken.cpp"
    source.write_text(text.replace(f'#include "{OURS}"', f'#include "{fake}"'))
    result = subprocess.run(
        [compiler, "-std=c++17", "-fsyntax-only", "-I", str(OFFICIAL), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    for message in (
        "kOfxPropTime differs",
        "offset of OfxRectI::x1",
        "type of OfxPropertySuiteV1::propSetDouble",
    ):
        assert message in result.stderr, result.stderr[-3000:]
