# A hostile cell of the gradekit corpus: a busy loop that ignores SIGINT.
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
