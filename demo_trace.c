// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: the tracepoints of demo_trace.h, defined here and nowhere else.
 */

#define CREATE_TRACE_POINTS
#include "demo_trace.h"
