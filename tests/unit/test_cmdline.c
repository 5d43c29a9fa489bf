// SPDX-License-Identifier: MIT
/* lib/cmdline.c: the kernel command line, read as the kernel reads it. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "cmdline.h"

static char v[32];

static int get(const char *cmdline, const char *key)
{
	memset(v, 'x', sizeof(v));
	return cmdline_get(cmdline, key, v, sizeof(v));
}

static void test_plain_word(void)
{
	CHECK(get("quiet erofs.url=https://a/ ro", "erofs.url") == 1);
	CHECK_STR(v, "https://a/");
}

/* the last one wins, like the kernel's own parameters */
static void test_last_wins(void)
{
	CHECK(get("erofs.url=x erofs.url=y", "erofs.url") == 1);
	CHECK_STR(v, "y");
}

static void test_quoted_value(void)
{
	CHECK(get("erofs.url=\"https://a/b c\" x", "erofs.url") == 1);
	CHECK_STR(v, "https://a/b c");
}

static void test_unterminated_quote(void)
{
	CHECK(get("b=\"unterminated x", "b") == 1);
	CHECK_STR(v, "unterminated x");
}

/* prefixes and bare words are other parameters */
static void test_other_keys(void)
{
	CHECK(get("xerofs.url=a erofs.urlx=b erofs.url", "erofs.url") == 0);
}

static void test_empty_value(void)
{
	CHECK(get("erofs.url=", "erofs.url") == 1);
	CHECK_STR(v, "");
}

static void test_blanks(void)
{
	CHECK(get("a=1\tb=2\n", "b") == 1);
	CHECK_STR(v, "2");
	CHECK(get("", "b") == 0);
}

static void test_too_long(void)
{
	CHECK(get("b=0123456789012345678901234567890123456789", "b") ==
	      -ENAMETOOLONG);
}

/* a quote may open the whole word, as the kernel allows */
static void test_quoted_word(void)
{
	CHECK(get("\"b=x y\" c=1", "b") == 1);
	CHECK_STR(v, "x y");
	CHECK(get("\"b=\"", "b") == 1);
	CHECK_STR(v, "");
	/* a quote inside a value stays */
	CHECK(get("b=a\"b", "b") == 1);
	CHECK_STR(v, "a\"b");
}

/* after a lone "--" the words are init's arguments */
static void test_double_dash(void)
{
	CHECK(get("b=1 -- b=2", "b") == 1);
	CHECK_STR(v, "1");
	CHECK(get("-- b=2", "b") == 0);
	/* not lone: a word like any other */
	CHECK(get("--x b=3 --=4", "b") == 1);
	CHECK_STR(v, "3");
	/* quoted, it still ends the kernel's part */
	CHECK(get("b=1 \"--\" b=2", "b") == 1);
	CHECK_STR(v, "1");
	/* inside quotes it ends nothing */
	CHECK(get("a=\"x -- y\" b=5", "b") == 1);
	CHECK_STR(v, "5");
}

int main(void)
{
	test_plain_word();
	test_last_wins();
	test_quoted_value();
	test_unterminated_quote();
	test_other_keys();
	test_empty_value();
	test_blanks();
	test_too_long();
	test_quoted_word();
	test_double_dash();
	return check_report("test_cmdline");
}
