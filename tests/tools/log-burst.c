// SPDX-License-Identifier: MIT
/*
 * log-burst TAG N [S]: logs N lines "burst TAG I" the way lazyrootd does
 * once its stderr goes nowhere (run it with 2>/dev/null): into the kernel
 * log; with S, S seconds later one more, "burst TAG end".
 * tests/shell/log.bats counts them in dmesg.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

int main(int argc, char **argv)
{
	long i, n;

	if (argc < 3 || argc > 4 || (n = strtol(argv[2], NULL, 10)) <= 0 ||
	    n > 10000) {
		fprintf(stderr, "usage: log-burst TAG N (1..10000) [SECONDS]\n");
		return 2;
	}
	log_open();
	for (i = 0; i < n; i++)
		log_info("burst %s %ld", argv[1], i);
	if (argc == 4) {
		sleep((unsigned int)strtol(argv[3], NULL, 10));
		log_info("burst %s end", argv[1]);
	}
	return 0;
}
