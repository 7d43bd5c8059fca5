// The corpus cleaners of src/train/text_clean.h on small hand-written inputs: markup removed, text kept, exact output.
#include "train/text_clean.h"

#include <gtest/gtest.h>

namespace ptq {
namespace {

TEST(TextClean, NormalizeCollapsesSpaceAndDropsInvalidUtf8) {
  EXPECT_EQ(normalize_paragraph("  a\tb \n\n c  "), "a b c");
  EXPECT_EQ(normalize_paragraph("caf\xc3\xa9 \xff ok"), "caf\xc3\xa9 ok");  // é kept, the stray 0xFF dropped
  EXPECT_EQ(normalize_paragraph("x\xc2\xa0y"), "x y");                       // no-break space is a space
  EXPECT_EQ(normalize_paragraph("\xed\xa0\x80z"), "z");                      // a surrogate is not UTF-8
  EXPECT_EQ(normalize_paragraph("a\x01\x7f b"), "a b");
  EXPECT_EQ(normalize_paragraph(" \n\t "), "");
}

TEST(TextClean, IsProseSeparatesSentencesFromCodeAndTables) {
  EXPECT_TRUE(is_prose("The quick brown fox jumps over the lazy dog."));
  EXPECT_FALSE(is_prose("Too short."));
  EXPECT_FALSE(is_prose("my $x = $h{foo}->[0] || die; # 1 2 3 4"));
  EXPECT_FALSE(is_prose("\xe2\x94\x82 NYU \xe2\x94\x82 New York University \xe2\x94\x82 \xe2\x94\x82 x y"));
}

TEST(TextClean, HtmlBlocksEntitiesAndSkippedElements) {
  const std::string html =
      "<html><head><title>T</title><style>p{}</style></head><body>"
      "<h1>Chapter&nbsp;1</h1><p>Use <code>apt</code> to install &amp; remove &lt;packages&gt; &#8212; "
      "easily&#x21;</p><!-- a <p>comment</p> --><pre>$ apt-get install x</pre><p>Second<br>line</p>"
      "<SCRIPT>var x = 1;</SCRIPT><div>tail &bogus; text</div></body></html>";
  const auto p = html_to_paragraphs(html);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0], "Chapter 1");
  EXPECT_EQ(p[1], "Use to install & remove <packages> \xe2\x80\x94 easily!");
  EXPECT_EQ(p[2], "Second");
  EXPECT_EQ(p[3], "line");
  EXPECT_EQ(p[4], "tail &bogus; text");
}

TEST(TextClean, PodKeepsProseDropsCommandsAndVerbatim) {
  const std::string pod =
      "=head1 NAME\n\nperlfoo - a B<bold> test\n\n=head2 Usage\n\nCall C<< $x->y >> or see L<the manual|perlfunc/open>"
      " and L<perlsyn>, E<lt>tagE<gt>.\nSecond I<line>Z<> here.\n\n    my $code = 1;\n    print $code;\n\n"
      "=begin html\n\n<p>raw</p>\n\n=end html\n\nAfter the block.\n\n=cut\n\nsub code { }\n\n=pod\n\nBack in POD.\n";
  const auto p = pod_to_paragraphs(pod);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], "perlfoo - a bold test");
  EXPECT_EQ(p[1], "Call $x->y or see the manual and perlsyn, <tag>. Second line here.");
  EXPECT_EQ(p[2], "After the block.");
  EXPECT_EQ(p[3], "Back in POD.");
}

TEST(TextClean, KjvChaptersFromBibleOutput) {
  const std::string out =
      "\nGenesis 1\n\n  1 In the beginning God created the heaven and the earth.\n  2 And the earth was without form.\n"
      "\nGenesis 2\n\n  1 Thus the heavens were finished.\n  10 And a river went out.\n";
  const auto c = kjv_chapters(out);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], "In the beginning God created the heaven and the earth. And the earth was without form.");
  EXPECT_EQ(c[1], "Thus the heavens were finished. And a river went out.");
}

TEST(TextClean, FortunesAndPlainParagraphs) {
  const auto f = split_fortunes("First cookie\n  -- Someone\n%\nSecond\ncookie\n%\n%\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], "First cookie -- Someone");
  EXPECT_EQ(f[1], "Second cookie");
  const auto t = text_paragraphs("   wrapped\n   text\n\n\n  next para\n");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0], "wrapped text");
  EXPECT_EQ(t[1], "next para");
}

}  // namespace
}  // namespace ptq
