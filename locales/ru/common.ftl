# Common words of the Tanba interface, in Russian.
app-name = Таңба
language-name = Русский
