# A hostile cell of the gradekit corpus: displays a 50 MB image.
import base64, os
from IPython.display import display
display({'image/png': base64.b64encode(os.urandom(50 << 20)).decode()}, raw=True)
