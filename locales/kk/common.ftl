# Common words of the Tanba interface, in Kazakh.
app-name = Таңба
language-name = Қазақша
