/* SPDX-License-Identifier: MIT */
/* Logging: to stderr, or to the kernel log when stderr goes nowhere. */
#ifndef LAZYROOT_LOG_H
#define LAZYROOT_LOG_H

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Chooses the destination; call once at start, before chroot or switch_root. */
void log_open(void);
void log_set_verbose(int verbose);
/* After forking into the background: stop depending on the starter's fds. */
void log_detach(void);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
