/* mcrx_recv: print each datagram of one subscription. See recv_main.c. */
#include "tool_common.h"

int main(int argc, char **argv) {
    return mcrx_tool_recv_main(argc, argv, 0, "mcrx_recv");
}
