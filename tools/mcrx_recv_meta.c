/* mcrx_recv_meta: as mcrx_recv, with each datagram's receive metadata. */
#include "tool_common.h"

int main(int argc, char **argv) {
    return mcrx_tool_recv_main(argc, argv, 1, "mcrx_recv_meta");
}
