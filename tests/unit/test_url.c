// SPDX-License-Identifier: MIT
/* Joining the base URL with blob names the kernel hands us. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "url.h"

static int join(char *out, size_t size, const char *base, const char *name)
{
	return url_join(out, size, base, name, strlen(name));
}

int main(void)
{
	char out[64], big[300];

	CHECK(join(out, sizeof(out), "https://h/img", "rootfs-v1") == 0);
	CHECK_STR(out, "https://h/img/rootfs-v1");
	CHECK(join(out, sizeof(out), "https://h/img/", "rootfs-v1") == 0);
	CHECK_STR(out, "https://h/img/rootfs-v1");
	CHECK(join(out, sizeof(out), "https://h/img//", "a") == 0);
	CHECK_STR(out, "https://h/img/a");
	CHECK(join(out, sizeof(out), "https://h:8443", "sha256:ab") == 0);
	CHECK_STR(out, "https://h:8443/sha256:ab");

	/* names that would escape the directory or break the URL */
	CHECK(join(out, sizeof(out), "https://h/", "..") == -EINVAL);
	CHECK(join(out, sizeof(out), "https://h/", ".hidden") == -EINVAL);
	CHECK(join(out, sizeof(out), "https://h/", "a/b") == -EINVAL);
	CHECK(join(out, sizeof(out), "https://h/", "a?b") == -EINVAL);
	CHECK(join(out, sizeof(out), "https://h/", "a b") == -EINVAL);
	CHECK(join(out, sizeof(out), "https://h/", "a%2f") == -EINVAL);
	CHECK(join(out, sizeof(out), "https://h/", "") == -EINVAL);
	CHECK(url_join(out, sizeof(out), "https://h/", "a\0b", 3) == -EINVAL);
	CHECK(url_check_name("\xff", 1) == -EINVAL);
	memset(big, 'a', sizeof(big));
	CHECK(url_check_name(big, 255) == 0);
	CHECK(url_check_name(big, 256) == -EINVAL);

	/* results that do not fit */
	CHECK(url_join(out, sizeof(out), "https://h/", big, 100) ==
	      -ENAMETOOLONG);
	CHECK(join(out, 12, "https://h/", "abc") == -ENAMETOOLONG);
	CHECK(join(out, 14, "https://h/", "abc") == 0);

	/* mirror lists */
	{
		const char *pos = "https://a/,https://bb/,", *item;
		size_t len;

		CHECK(url_list_next(&pos, &item, &len) == 1);
		CHECK(len == 10 && !strncmp(item, "https://a/", len));
		CHECK(url_list_next(&pos, &item, &len) == 1);
		CHECK(len == 11 && !strncmp(item, "https://bb/", len));
		CHECK(url_list_next(&pos, &item, &len) == 1);
		CHECK(len == 0);
		CHECK(url_list_next(&pos, &item, &len) == 0);
		pos = "x";
		CHECK(url_list_next(&pos, &item, &len) == 1 && len == 1);
		CHECK(url_list_next(&pos, &item, &len) == 0);
	}
	return check_report("test_url");
}
