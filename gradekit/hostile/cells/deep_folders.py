# A hostile cell of the gradekit corpus: leaves a folder chain 3,000 deep, the last one unreadable, in its job
# folder.
import os
_top = os.getcwd()
for _ in range(3000):                   # Python 3.11's recursive rmtree gave up at ~1,000
    os.mkdir("d")
    os.chdir("d")
open("last", "w").close()
os.chmod(".", 0)
os.chdir(_top)
