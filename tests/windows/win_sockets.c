#include "wt.h"
int main(int argc, char **argv) { static const wt_test t[] = {{"x", 0}}; return wt_main(argc, argv, t, 0, 1); }
