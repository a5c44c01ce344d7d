# A hostile cell of the gradekit corpus: ctypes.string_at(0).
import ctypes
ctypes.string_at(0)
