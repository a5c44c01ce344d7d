# A hostile cell of the gradekit corpus: input transformers strip asserts and rewrite the probe cells
# ("__FORGED__" is substituted).
from IPython import get_ipython
_ip = get_ipython()


def _strip_asserts(lines):
    return [l for l in lines if not l.lstrip().startswith("assert ")]


def _rewrite_probes(lines):
    src = "".join(lines)
    if "__gradekit_probe__" in src:
        src = src.replace("_ns['plain'](_ns['probe'](__p['params']))", repr("__FORGED__"))
        return src.splitlines(True)
    return lines


_ip.input_transformers_cleanup.append(_strip_asserts)
_ip.input_transformers_post.append(_rewrite_probes)
