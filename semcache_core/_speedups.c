/* Optional accelerator for the get_or_compute hot path (see vector_values.py).
 *
 * Loops that Python can only write as several numpy passes plus a temporary list:
 *
 *   unit_of_float_list(values, dim) -> (norm, unit float32 bytes, read back) | None
 *       A list of exact ``float`` objects made a unit float32 vector and its norm, the
 *       arithmetic of ``vector_value_of``: every component rounded to float32 first, the
 *       squares of those summed in double, each divided by the norm and rounded to
 *       float32. None for anything the general Python path must judge: not a list, the
 *       wrong length, an item that is not exactly a float, a NaN, an infinity or a
 *       component outside +-1e38, or a vector whose float32 components are all zero.
 *       ``read back`` is the list ``float_list_of(unit, norm)`` gives, made in the same
 *       pass: where a component reads back as the very double it came in as (every one,
 *       for an already normalised float32 embedding), it holds the input's own float
 *       object (floats are immutable), so a computed embedding is returned without
 *       making hundreds of new floats.
 *
 *   unit_into(values, matrix, row) -> (norm, read back, unit float32 bytes) | None
 *       The same, the unit vector written into ``matrix[row]`` (a C-contiguous float32
 *       matrix of ``len(values)`` columns: an index's next row) and copied to the bytes,
 *       and ``read back`` is ``values`` itself when every component reads back as given:
 *       a ``get_or_compute`` miss stores its embedding and returns the function's own
 *       list, making no list of floats. On None the row holds garbage.
 *
 *   float_list_of(unit, norm) -> list[float]
 *       ``(unit * norm)`` computed in double and rounded to float32 per component, as
 *       Python floats: ``np.multiply(unit, norm, dtype=np.float64).astype(np.float32)
 *       .tolist()`` in one pass. ``unit`` is any C-contiguous float32 buffer.
 *
 *       Its floats are recycled (see ``recycled_float``): making and freeing hundreds of
 *       float objects is most of a ``get_or_compute`` hit, and a caller that drops each
 *       embedding once used (converted to an array, sent on) hands them back.
 *
 *   untrack(*objects) -> None
 *       Takes each object out of the garbage collector's lists (see untracked.py).
 *
 * The package works without this module (the pure Python twins in vector_values.py run
 * instead); tests check that both give the same results.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

/* Components at or above this magnitude take the Python path (float32's largest is ~3.4e38). */
#define SAFE_COMPONENT 1e38

/* A stored unit component given back: times the norm in double, rounded to float32. */
static inline double
read_back(float unit, double norm)
{
    return (double)(float)((double)unit * norm);
}

/* 1 when ``nargs`` is ``want``, else 0 with a TypeError showing how to call ``usage``. */
static int
takes(Py_ssize_t nargs, Py_ssize_t want, const char *usage)
{
    if (nargs == want) {
        return 1;
    }
    PyErr_Format(PyExc_TypeError, "%s takes %zd arguments", usage, want);
    return 0;
}

/* Whether a buffer's items are native float32 (its format spelled with or without the
 * native byte order). */
static int
is_float32(const Py_buffer *view)
{
    const char *format = view->format == NULL ? "" : view->format;
    if (format[0] == '@' || format[0] == '=' || (PY_LITTLE_ENDIAN && format[0] == '<')) {
        format++;
    }
    return view->itemsize == (Py_ssize_t)sizeof(float) && strcmp(format, "f") == 0;
}

/* ``values`` (a list of n items) made a unit vector in ``unit``: 1, with its norm, or 0
 * when the general Python path must judge it (an item that is not exactly a float, a NaN,
 * an infinity or a component outside +-1e38, or float32 components all zero). Allocates
 * nothing, so nothing can run meanwhile and change ``values``. */
static int
fill_unit(PyObject *values, float *unit, Py_ssize_t n, double *norm)
{
    double squared = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(values, i);
        if (!PyFloat_CheckExact(item)) {
            return 0;
        }
        double value = PyFloat_AS_DOUBLE(item);
        if (!(value > -SAFE_COMPONENT && value < SAFE_COMPONENT)) { /* NaN fails both */
            return 0;
        }
        float rounded = (float)value;
        unit[i] = rounded;
        squared += (double)rounded * (double)rounded;
    }
    if (squared == 0.0) { /* every component underflowed float32 */
        return 0;
    }
    *norm = sqrt(squared);
    for (Py_ssize_t i = 0; i < n; i++) {
        unit[i] = (float)((double)unit[i] / *norm);
    }
    return 1;
}

/* Whether component i of ``values`` is, to the bit, what its unit component reads back as
 * (0.0 == -0.0, yet they are different values to give back). */
static inline int
reads_back_as_given(PyObject *values, Py_ssize_t i, const float *unit, double norm)
{
    double read = read_back(unit[i], norm);
    double given = PyFloat_AS_DOUBLE(PyList_GET_ITEM(values, i));
    return memcmp(&read, &given, sizeof(double)) == 0;
}

/* The list a read of ``unit`` gives back, holding ``values``' own float where a component
 * reads back as given. Making the list may start a garbage collection, whose finalisers
 * may change ``values``: each item is checked again as it is taken, and every component
 * is made anew from ``unit`` if the list's length changed. */
static PyObject *
read_back_list(PyObject *values, const float *unit, Py_ssize_t n, double norm)
{
    PyObject *back = PyList_New(n);
    if (back == NULL) {
        return NULL;
    }
    int intact = PyList_GET_SIZE(values) == n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = intact ? PyList_GET_ITEM(values, i) : NULL;
        if (item != NULL && PyFloat_CheckExact(item) && reads_back_as_given(values, i, unit, norm)) {
            Py_INCREF(item);
        }
        else if ((item = PyFloat_FromDouble(read_back(unit[i], norm))) == NULL) {
            Py_DECREF(back);
            return NULL;
        }
        PyList_SET_ITEM(back, i, item);
    }
    return back;
}

static PyObject *
unit_of_float_list(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!takes(nargs, 2, "unit_of_float_list(values, dim)")) {
        return NULL;
    }
    PyObject *values = args[0];
    Py_ssize_t dim = -1;
    if (args[1] != Py_None) {
        dim = PyNumber_AsSsize_t(args[1], PyExc_OverflowError); /* ints and __index__ */
        if (dim == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (!PyList_CheckExact(values)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t n = PyList_GET_SIZE(values);
    if (n == 0 || (dim >= 0 && n != dim)) {
        Py_RETURN_NONE;
    }
    /* made before the items are read: an allocation that starts a garbage collection may
     * run a finaliser, which may change ``values`` */
    PyObject *blob = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(float));
    if (blob == NULL) {
        return NULL;
    }
    float *unit = (float *)PyBytes_AS_STRING(blob);
    double norm;
    if (PyList_GET_SIZE(values) != n || !fill_unit(values, unit, n, &norm)) {
        Py_DECREF(blob);
        Py_RETURN_NONE;
    }
    PyObject *back = read_back_list(values, unit, n, norm);
    if (back == NULL) {
        Py_DECREF(blob);
        return NULL;
    }
    return Py_BuildValue("(dNN)", norm, blob, back);
}

static PyObject *
unit_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!takes(nargs, 3, "unit_into(values, matrix, row)")) {
        return NULL;
    }
    PyObject *values = args[0];
    Py_ssize_t row = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (row == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        != 0) {
        return NULL;
    }
    if (view.ndim != 2 || !is_float32(&view) || row < 0 || row >= view.shape[0]) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError,
                        "unit_into needs a C-contiguous 2-D float32 matrix and a row inside it");
        return NULL;
    }
    Py_ssize_t n = view.shape[1];
    float *unit = (float *)view.buf + row * n;
    double norm;
    if (!PyList_CheckExact(values) || n == 0 || PyList_GET_SIZE(values) != n
        || !fill_unit(values, unit, n, &norm)) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    /* the stored row's own copy, before anything can run (bytes start no collection):
     * what the flight's waiters get is made from it, whatever becomes of ``values`` */
    PyObject *stored = PyBytes_FromStringAndSize((const char *)unit, n * (Py_ssize_t)sizeof(float));
    if (stored == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_ssize_t i = 0;
    while (i < n && reads_back_as_given(values, i, unit, norm)) {
        i++;
    }
    PyObject *back = values; /* every component reads back as given: the list itself */
    if (i < n) {
        back = read_back_list(values, unit, n, norm);
    }
    else {
        Py_INCREF(back);
    }
    PyBuffer_Release(&view);
    if (back == NULL) {
        Py_DECREF(stored);
        return NULL;
    }
    return Py_BuildValue("(dNN)", norm, back, stored);
}

/* The floats float_list_of last made, in a ring. A float in the ring that nothing else
 * holds any more (reference count 1: the ring's own) is given its new value and handed
 * out again instead of freeing one float and making another: no float a caller can still
 * reach is ever changed, as CPython's own zip() and dict.items() iterators reuse a result
 * tuple only while nothing else holds it. A ring of 4096 covers two calls at every
 * common embedding size up to 2048, so a caller may keep the previous result while
 * asking for the next. It relies on the GIL to see a count of 1 and change the value in
 * one step, and on CPython's own reference counts: without a GIL, or on PyPy (whose
 * counts here are emulated), every float is made anew. */
#if !defined(Py_GIL_DISABLED) && !defined(PYPY_VERSION)
#define RECYCLE_FLOATS
#endif

#ifdef RECYCLE_FLOATS
#define RING_SIZE 4096 /* a power of two */
static PyObject *ring[RING_SIZE];
static size_t ring_next;
#endif

/* Whether the ring has floats to give back where it stands: when a caller holds on to the
 * floats it was given (keeps each result), checking each would cost a cache miss per
 * float for nothing, so the whole list is made anew and the ring moves past. */
static inline int
ring_ready(void)
{
#ifndef RECYCLE_FLOATS
    return 0;
#else
    PyObject *held = ring[ring_next];
    return held == NULL || Py_REFCNT(held) == 1;
#endif
}

static inline void
ring_skip(Py_ssize_t count)
{
#ifdef RECYCLE_FLOATS
    ring_next = (ring_next + (size_t)count) & (RING_SIZE - 1);
#else
    (void)count;
#endif
}

static inline PyObject *
recycled_float(double value)
{
#ifndef RECYCLE_FLOATS
    return PyFloat_FromDouble(value);
#else
    PyObject **slot = &ring[ring_next];
    ring_next = (ring_next + 1) & (RING_SIZE - 1);
    PyObject *held = *slot;
    if (held != NULL && Py_REFCNT(held) == 1) {
        ((PyFloatObject *)held)->ob_fval = value;
        Py_INCREF(held);
        return held;
    }
    PyObject *made = PyFloat_FromDouble(value);
    if (made == NULL) {
        return NULL;
    }
    Py_INCREF(made);
    *slot = made;
    Py_XDECREF(held); /* still held elsewhere (count above 1): never freed here */
    return made;
#endif
}

static PyObject *
float_list_of(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!takes(nargs, 2, "float_list_of(unit, norm)")) {
        return NULL;
    }
    double norm = PyFloat_AsDouble(args[1]);
    if (norm == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        return NULL;
    }
    if (!is_float32(&view)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "float_list_of needs a C-contiguous float32 buffer");
        return NULL;
    }
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(float);
    const float *unit = (const float *)view.buf;
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    int recycle = ring_ready();
    if (!recycle) {
        ring_skip(n);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        double value = read_back(unit[i], norm);
        PyObject *item = recycle ? recycled_float(value) : PyFloat_FromDouble(value);
        if (item == NULL) {
            Py_DECREF(list);
            PyBuffer_Release(&view);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    PyBuffer_Release(&view);
    return list;
}

static PyObject *
untrack(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (PyObject_IS_GC(args[i]) && PyObject_GC_IsTracked(args[i])) {
            PyObject_GC_UnTrack(args[i]);
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef speedups_methods[] = {
    {"unit_of_float_list", (PyCFunction)(void (*)(void))unit_of_float_list, METH_FASTCALL,
     "(norm, unit float32 bytes, read back) of a list of floats, or None for the general path."},
    {"unit_into", (PyCFunction)(void (*)(void))unit_into, METH_FASTCALL,
     "(norm, read back, row bytes) of a list of floats made a unit row of a float32 matrix, "
     "or None."},
    {"float_list_of", (PyCFunction)(void (*)(void))float_list_of, METH_FASTCALL,
     "The list of floats unit * norm, rounded to float32 per component."},
    {"untrack", (PyCFunction)(void (*)(void))untrack, METH_FASTCALL,
     "Take each object out of the garbage collector's lists."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "Optional C loops for the get_or_compute hot path (see vector_values.py).", 0,
    speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&speedups_module);
}
